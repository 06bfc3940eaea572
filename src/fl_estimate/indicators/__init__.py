"""Indicators: score survey answers and case records against the forced-labour frameworks."""
