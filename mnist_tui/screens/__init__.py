"""The app's views (tab panes) and modal screens."""
