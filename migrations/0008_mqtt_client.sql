-- The device's MqttClient (StatusMQT, or INFO1's FallbackTopic): its fallback topic cmnd/<client>_fb/
-- reaches that one device even when two share a Topic, so device jobs send their commands there.
ALTER TABLE devices ADD COLUMN mqtt_client TEXT;
