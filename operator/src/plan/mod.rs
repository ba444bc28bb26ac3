//! Pure planning: values in, values out. Nothing here performs I/O.
