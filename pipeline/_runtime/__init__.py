"""Process-level helpers: the garbage collector around imports and at exit, folders replaced in one
step."""
