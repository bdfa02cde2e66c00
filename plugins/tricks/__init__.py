"""The built-in optimizer tricks: one plugin module each, registered by entry point like any third-party trick."""
