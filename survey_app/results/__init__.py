"""The evaluators' side (评估组): weighted recognition rates from the database."""
