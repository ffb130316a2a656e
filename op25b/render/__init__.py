"""Stage 5: render a Policy into a ruleset (nft) or a vendor ACL. Pure functions, golden-tested."""
