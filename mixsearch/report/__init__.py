"""The study's page (report file and live dashboard): its sections, interactive figures and tables;
static PNGs for fit and replay."""
