"""Independent reference implementations (numpy/torch, written from the official code) and checks against them."""
