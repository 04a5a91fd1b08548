"""Import every converter so that it registers."""
from . import covid_lungs, nih_chestxray14  # noqa: F401
