"""Survey integrity on the platform: the checks of ``analysis.integrity`` run on a stored
campaign, and the decisions people make about the school groups they flag."""
