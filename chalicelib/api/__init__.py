"""HTTP routes, one blueprint per API, and the adapter they share (`http`)."""
