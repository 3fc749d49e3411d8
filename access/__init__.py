"""Access control for Crime Plan Monitor: roles and what each may see (`access.roles`), sign-in configuration and
the serve-address rule (`access.serve`), the append-only audit trail (`access.audit`), safe error handling
(`access.errors`), and the small Streamlit-side helpers that use them (`access.streamlit_side`).

Only `access.streamlit_side` and `access.errors` import Streamlit, and only inside their functions' bodies or
at module level of a module the UI alone imports; the rest is pure and unit-tested. See docs/SECURITY.md."""
