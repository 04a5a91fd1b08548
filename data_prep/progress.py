"""A progress bar for converters' long loops (mmengine's, on stdout)."""
import sys
from typing import Iterable, Iterator, TypeVar

from mmengine.utils import ProgressBar

T = TypeVar('T')

# Short runs (tests, --limit trials) print no bar: it would only be noise.
MIN_ITEMS_FOR_BAR = 200


def progress(items: Iterable[T], total: int, what: str = 'items') -> Iterator[T]:
    """Yield ``items``, drawing a bar when there are many.

    Args:
        items (Iterable): The work.
        total (int): How many items there are.
        what (str): What they are, printed before the bar.
    """
    if total < MIN_ITEMS_FOR_BAR:
        yield from items
        return
    print(f'converting {total} {what}')
    # sys.stdout at call time, not the one ProgressBar bound at import.
    bar = ProgressBar(total, file=sys.stdout)
    for item in items:
        yield item
        bar.update()
    print()
