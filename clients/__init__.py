"""Two demo partner sites that use the Net-entreprises identity the ways partners do."""
