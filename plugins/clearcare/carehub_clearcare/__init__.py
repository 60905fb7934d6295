"""The ClearCare (WellSky Personal Care) connector for carehub, and its sandbox."""
