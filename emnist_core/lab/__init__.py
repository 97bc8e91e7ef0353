"""The lab: the server's state (live models, test data, one job), the class's corrections and fine-tuning on
them, and what is said about models in words and figures."""
