"""Scoring owns expert panels, reviewer assignment (never a conflicted reviewer), rubric scores, moderation, ranking and panel decisions."""
