"""The code scanner (``scan-code``): bandit's tests plus secpipe's ML/LLM rule pack, on Python
files and notebook code cells, parsed (never imported or run) under size and time bounds."""
