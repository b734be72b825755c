"""DataPacket emulator: the upstream GraphQL schema, its resolvers, rules and seeded fleet."""
