"""Business rules. Only services change the database; views call them."""
