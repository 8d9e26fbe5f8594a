"""The browser console: one page, served by every gateway, that drives all four protocols (issue 12)."""
