"""The window around everything: the app's start, the main window and its menus, the start page."""
