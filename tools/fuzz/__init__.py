"""libFuzzer harnesses (Swift) and their seed generator (make_seeds.py)."""
