// Tests start Azurite the same way the local host does.
export { type Azurite, startAzurite } from '../../shared/localhost/azurite.js';
