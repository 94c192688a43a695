"""PostgreSQL implementation of the repository.  Only this package (and ``kernel.db``) speaks SQL."""
