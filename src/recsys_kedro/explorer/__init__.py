"""The recommendations explorer: a Streamlit app over the project's outputs (``make app``)."""
