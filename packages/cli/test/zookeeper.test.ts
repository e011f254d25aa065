import t from 'tap';
import { registryCases } from './fixtures/registry-cases.js';
import { startScene, type Scene } from './fixtures/scene.js';

let scene: Scene;
t.before(async () => {
  scene = await startScene('zookeeper');
});
t.teardown(() => scene?.close());

registryCases(t, () => scene);
