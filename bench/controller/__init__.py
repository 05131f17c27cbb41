"""Control-quality benchmark: controllers stepped at 1 s in simulated time against a Hoymiles plant model."""
