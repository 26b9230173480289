/** test/security/adversarial-idp.test.ts again, every signature checked by the WebCrypto backend (see ../../support/webcrypto-backend.ts). */
import '../../support/webcrypto-backend.js';
import '../adversarial-idp.test.js';
