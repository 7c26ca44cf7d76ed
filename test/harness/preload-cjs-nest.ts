/**
 * Jest setup (e2e): `@nestjs/throttler` is CommonJS and `require()`s the ESM-only `@nestjs/common`. Node allows that
 * (require(esm)), but inside Jest's ESM graph that require happens while `@nestjs/common` is still being linked, and
 * Node refuses a require(esm) in a cycle. Loading both once, in order, before the test file keeps them out of it.
 * Plain Node (`npm start`) needs none of this.
 */
await import('@nestjs/common');
await import('@nestjs/throttler');
