// Hive Gateway over the composed supergraph; ANCHOR_CACHE=1 switches its response cache (S3).
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  logging: 'warn',
  ...(process.env.ANCHOR_CACHE === '1'
    ? { responseCaching: { session: () => null, ttl: 60_000 } }
    : {}),
});
