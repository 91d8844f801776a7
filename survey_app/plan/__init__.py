"""The supervisor's side (督导): the frame, the sampling plan, the draw, codes and slips."""
