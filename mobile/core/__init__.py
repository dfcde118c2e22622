"""The handheld's logic: API client, local store, form engine, sync, law library.

Nothing in this package imports Kivy, so all of it runs (and is tested) headless.
"""

__all__ = ["api", "formengine", "laws", "store", "sync", "session"]
