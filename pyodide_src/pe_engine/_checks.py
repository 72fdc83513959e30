"""Argument checks shared by the engine; every error names the argument."""

__all__ = ["positive_int", "non_negative_int", "size_pair", "matrix_shape"]


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("%s must be an int (got %r)" % (name, value))
    if value <= 0:
        raise ValueError("%s must be positive (got %r)" % (name, value))
    return value


def non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("%s must be an int (got %r)" % (name, value))
    if value < 0:
        raise ValueError("%s must be non-negative (got %r)" % (name, value))
    return value


def size_pair(name, value):
    """An int n (meaning n x n) or a (rows, cols) pair of positive ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        positive_int(name, value)
        return (value, value)
    try:
        rows, cols = value
    except (TypeError, ValueError):
        raise ValueError("%s must be an int or a (rows, cols) pair (got %r)" % (name, value))
    positive_int(name + " rows", rows)
    positive_int(name + " cols", cols)
    return (rows, cols)


def matrix_shape(name, matrix):
    """(rows, cols) of a non-empty rectangular list of lists."""
    try:
        rows = len(matrix)
        cols = len(matrix[0]) if rows else 0
    except TypeError:
        raise ValueError("%s must be a list of rows (got %r)" % (name, type(matrix).__name__))
    if rows == 0 or cols == 0:
        raise ValueError("%s must be a non-empty matrix (got %d rows)" % (name, rows))
    for i, row in enumerate(matrix):
        if len(row) != cols:
            raise ValueError("%s must be rectangular: row %d has %d values, expected %d"
                             % (name, i, len(row), cols))
    return rows, cols
