"""The bundled demo project (YouTube comment spam); see youtube_spam/SOURCE.txt."""
from pathlib import Path

DEMO_PROJECT = Path(__file__).parent / "youtube_spam" / "polarlab.toml"
