"""Authentication and access control: who a caller is (credentials), and what they may do (grants)."""
