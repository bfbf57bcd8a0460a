"""visualize: pictures of the computation graph and of backprop. Being written (issue 4)."""
