"""AppView full-text search: a tantivy index of posts and actors on disk."""
