#!/bin/bash
# The apache/kafka image's tool of the same name, so one health check serves both images.
exec java -Xmx64m -cp "/opt/kafka/libs/*" -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
