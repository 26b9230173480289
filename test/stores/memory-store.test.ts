import { createMemoryStore } from '../../src/index.js';
import { revocationStoreContract } from './store-contract.js';

revocationStoreContract('memory store', {
  create: async (clock) => createMemoryStore({ clock }),
});
