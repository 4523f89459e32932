"""One widget per module; none of them imports TensorFlow."""
