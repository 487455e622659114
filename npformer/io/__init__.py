"""Reading and writing tensors: the safetensors format in NumPy alone."""
from .safetensors import (
                          MAX_HEADER_SIZE,
                          SafetensorsError,
                          bfloat16_bits_to_float32,
                          dtype_kind,
                          float32_to_bfloat16_bits,
                          load_file,
                          load_metadata,
                          read_header,
                          save_file,
)

__all__ = ["SafetensorsError", "load_file", "save_file", "load_metadata", "read_header", "dtype_kind",
           "float32_to_bfloat16_bits", "bfloat16_bits_to_float32", "MAX_HEADER_SIZE"]
