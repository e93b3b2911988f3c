// Applies real Kafka Connect / Debezium SMTs and predicates to records given as JSON lines, and prints what they
// produce, so cdc-engine's Python SMTs can be compared with them (see record_reference.py next to this file).
//
// Input line: {"id", "type", "props", "schemas", "source", "topic", "partition", "offset", "timestamp",
//              "key", "value", "headers": [[name, text|null]], "predicate": {"type", "props"} | null}
// Output line: {"id", "config_error"} | {"id", "error_class", "error"} | {"id", "dropped": true} |
//              {"id", "topic", "partition", "timestamp", "key", "value", "headers"} | {"id", "test": bool}
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;

public class SmtHarness {
    static final ObjectMapper MAPPER = new ObjectMapper();

    static JsonConverter converter(boolean schemas, boolean isKey) {
        JsonConverter c = new JsonConverter();
        Map<String, Object> cfg = new HashMap<>();
        cfg.put("schemas.enable", Boolean.toString(schemas));
        cfg.put("converter.type", isKey ? "key" : "value");
        c.configure(cfg, isKey);
        return c;
    }

    static byte[] bytes(JsonNode node) throws Exception {
        return node == null || node.isNull() ? null : MAPPER.writeValueAsBytes(node);
    }

    static JsonNode json(byte[] data) throws Exception {
        return data == null ? null : MAPPER.readTree(data);
    }

    static Map<String, String> props(JsonNode node) {
        Map<String, String> out = new HashMap<>();
        if (node != null) {
            Iterator<Map.Entry<String, JsonNode>> it = node.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                out.put(e.getKey(), e.getValue().asText());
            }
        }
        return out;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    public static void main(String[] args) throws Exception {
        SimpleHeaderConverter headerConverter = new SimpleHeaderConverter();
        headerConverter.configure(new HashMap<>());
        try (BufferedReader in = new BufferedReader(new FileReader(args[0], StandardCharsets.UTF_8));
             PrintWriter out = new PrintWriter(args[1], StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                JsonNode c = MAPPER.readTree(line);
                ObjectNode result = MAPPER.createObjectNode();
                result.put("id", c.get("id").asText());
                boolean schemas = c.get("schemas").asBoolean();
                JsonConverter keyConv = converter(schemas, true);
                JsonConverter valueConv = converter(schemas, false);
                String topic = c.get("topic").asText();
                SchemaAndValue key = keyConv.toConnectData(topic, bytes(c.get("key")));
                SchemaAndValue value = valueConv.toConnectData(topic, bytes(c.get("value")));
                ConnectHeaders headers = new ConnectHeaders();
                if (c.has("headers")) {
                    for (JsonNode h : c.get("headers")) {
                        byte[] raw = h.get(1).isNull() ? null : h.get(1).asText().getBytes(StandardCharsets.UTF_8);
                        headers.add(h.get(0).asText(), headerConverter.toConnectHeader(topic, h.get(0).asText(), raw));
                    }
                }
                Integer partition = c.hasNonNull("partition") ? c.get("partition").asInt() : null;
                Long timestamp = c.hasNonNull("timestamp") ? c.get("timestamp").asLong() : null;
                ConnectRecord record;
                if (c.path("source").asBoolean(false)) {
                    record = new SourceRecord(null, null, topic, partition, key.schema(), key.value(), value.schema(),
                            value.value(), timestamp, headers);
                } else {
                    record = new SinkRecord(topic, partition == null ? 0 : partition, key.schema(), key.value(),
                            value.schema(), value.value(), c.path("offset").asLong(0), timestamp,
                            TimestampType.CREATE_TIME, headers);
                }
                try {
                    if (c.hasNonNull("predicate_type")) {
                        Predicate p = (Predicate) Class.forName(c.get("predicate_type").asText()).getDeclaredConstructor().newInstance();
                        try {
                            p.configure(props(c.get("props")));
                        } catch (Throwable e) {
                            result.put("config_error", e.getClass().getName() + ": " + e.getMessage());
                            out.println(MAPPER.writeValueAsString(result));
                            continue;
                        }
                        result.put("test", p.test(record));
                        out.println(MAPPER.writeValueAsString(result));
                        continue;
                    }
                    Transformation t = (Transformation) Class.forName(c.get("type").asText()).getDeclaredConstructor().newInstance();
                    try {
                        t.configure(props(c.get("props")));
                    } catch (Throwable e) {
                        result.put("config_error", e.getClass().getName() + ": " + e.getMessage());
                        out.println(MAPPER.writeValueAsString(result));
                        continue;
                    }
                    ConnectRecord r = t.apply(record);
                    if (r == null) {
                        result.put("dropped", true);
                    } else {
                        result.put("topic", r.topic());
                        if (r.kafkaPartition() == null) result.putNull("partition"); else result.put("partition", r.kafkaPartition());
                        if (r.timestamp() == null) result.putNull("timestamp"); else result.put("timestamp", r.timestamp());
                        result.set("key", json(keyConv.fromConnectData(r.topic(), r.keySchema(), r.key())));
                        result.set("value", json(valueConv.fromConnectData(r.topic(), r.valueSchema(), r.value())));
                        ArrayNode hs = result.putArray("headers");
                        for (Header h : (Iterable<Header>) r.headers()) {
                            ArrayNode pair = hs.addArray();
                            pair.add(h.key());
                            byte[] raw = headerConverter.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value());
                            if (raw == null) pair.addNull(); else pair.add(new String(raw, StandardCharsets.UTF_8));
                        }
                    }
                } catch (Throwable e) {
                    result.put("error_class", e.getClass().getName());
                    result.put("error", String.valueOf(e.getMessage()));
                }
                out.println(MAPPER.writeValueAsString(result));
            }
        }
    }
}
