"""PPO Playground: the command line and the Streamlit app."""
