import { startRedisCluster } from './test/helpers/redis-cluster.js';
import { startRedisServer } from './test/helpers/redis-server.js';
import { startRedisSentinelSetup } from './test/helpers/redis-sentinel.js';
import { Redis } from 'ioredis';
let t = Date.now();
const lap = (l: string) => { console.log(l, Date.now() - t, 'ms'); t = Date.now(); };
const s = await startRedisServer(); lap('server start');
await s.kill(); lap('kill'); await s.restart(); lap('restart'); await s.stop(); lap('stop'); await s.cleanup(); lap('cleanup');
const c = await startRedisCluster(); lap('cluster start'); await c.stop(); lap('cluster stop');
for (let i = 0; i < 3; i++) {
const st = await startRedisSentinelSetup(); lap('sentinel start');
const cl = new Redis({ sentinels: st.sentinels, name: st.name }); cl.on('error', () => {});
await cl.set('a', '1'); await cl.call('WAIT', '1', '1000'); lap('write');
await st.killPrimary(); const a = await st.waitForFailover(); lap('failover ' + JSON.stringify(a));
await cl.set('b', '2'); lap('write after'); cl.disconnect();
await st.stop(); lap('sentinel stop');
}
