"""Protocol edges: each speaks one wire protocol over the upload core, and only they know HTTP."""
