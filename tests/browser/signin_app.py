"""A throwaway Streamlit script for the sign-in browser test (not the dashboard): the access helpers alone, in
the order app.py will call them, then who is signed in, their role, their views and their groups as plain text."""

import json

import streamlit as st

from access.streamlit_side import render_unauthenticated_notice, require_access, serve_guard

serve_guard()
access = require_access()
if not access.signed_in:
    render_unauthenticated_notice()
st.text(f"user: {access.user}")
st.text(f"role: {access.role}")
st.text("views: " + ", ".join(sorted(access.capabilities.views)))
st.text("groups: " + json.dumps(st.user.to_dict().get("groups")))
st.button("Sign out", key="sign_out", on_click=st.logout)
