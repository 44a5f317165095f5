"""Where data meets pgc: the collection catalog (and, later, readers and writers)."""
