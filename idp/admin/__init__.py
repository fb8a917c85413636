"""« Gestion »: the administrator space under /gestion."""
