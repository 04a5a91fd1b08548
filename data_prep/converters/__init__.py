"""Import every converter so that it registers."""
from . import covid_lungs  # noqa: F401
