"""llama.cpp peer harnesses: the same weights through llama.cpp and Diffu, compared or timed in one run."""
